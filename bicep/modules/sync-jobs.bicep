// The sync: its own internal Container Apps environment on the sync subnet (whose internet egress
// goes through the firewall to the upstream only), and one scheduled job per shard running
// `blobpi sync` from the image with the reviewed allow-list baked in. A run ends before the next
// one starts (replicaTimeout x attempts within the schedule's period), and a run started by hand
// meanwhile waits for the lease instead of failing. The workflow identity may update and start
// these jobs, and join this environment, and nothing else here.

@description('Required. Prefix of the resource names: lower case, at most 24 characters, so that every job name stays within 32.')
@minLength(2)
@maxLength(24)
param namePrefix string

@description('Optional. Azure region for all resources.')
param location string = resourceGroup().location

@description('Required. Resource ID of the sync subnet (delegated to Microsoft.App/environments, egress through the firewall).')
param syncSubnetId string

@description('Required. Resource ID of the Log Analytics workspace.')
param workspaceId string

@description('Required. Login server of the registry, e.g. NAME.azurecr.io.')
param registryServer string

@description('Required. Image of the sync jobs without the registry host: the image with the allow-list baked in (.github/sync.Dockerfile), as the allow-list workflow last built it.')
@minLength(1)
param syncImage string

@description('Required. URL of the index container, https://ACCOUNT.blob.core.windows.net/CONTAINER.')
param containerUrl string

@description('Required. Resource ID of the sync identity.')
param syncIdentityId string

@description('Required. Client ID of the sync identity.')
param syncClientId string

@description('Required. Upstream simple index the sync mirrors from (PEP 691 JSON), ending in /simple/.')
param upstreamUrl string

@description('Optional. Cron schedule (UTC) of the sync: minute and hour fields only (hourly by default).')
param syncSchedule string = '17 * * * *'

@description('Optional. Seconds one sync run may take; with its retry it must end before the next scheduled run.')
@minValue(600)
@maxValue(86400)
param syncTimeout int = 3000

@description('Optional. Seconds a run waits for the lease another run holds (a run started by hand during a scheduled one).')
@minValue(0)
@maxValue(3600)
param leaseWait int = 600

@description('Optional. Number of sync jobs, each mirroring one shard (BLOBPI_SHARD K/N) of the allow-list.')
@minValue(1)
@maxValue(16)
param syncShards int = 1

@description('Optional. Principal ID of the allow-list workflow identity; empty for none.')
param workflowPrincipalId string = ''

@description('Optional. Resource ID of the workflow\'s custom role definition; empty for none.')
param workflowRoleId string = ''

@description('Optional. Tags for all resources.')
param tags object = {}

resource syncEnv 'Microsoft.App/managedEnvironments@2024-03-01' = {
  name: '${namePrefix}-sync-env'
  location: location
  tags: tags
  properties: {
    vnetConfiguration: {
      internal: true // user-defined routes work only with an internal environment
      infrastructureSubnetId: syncSubnetId
    }
    workloadProfiles: [
      {
        name: 'Consumption'
        workloadProfileType: 'Consumption'
      }
    ]
    appLogsConfiguration: {
      destination: 'azure-monitor'
    }
    zoneRedundant: false // a scheduled job has no replica to spread; a missed run is retried by the next
  }
}

resource syncEnvLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: syncEnv
  properties: {
    workspaceId: workspaceId
    logAnalyticsDestinationType: 'Dedicated' // ContainerAppConsoleLogs, ContainerAppSystemLogs
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
  }
}

resource syncJobs 'Microsoft.App/jobs@2024-03-01' = [
  for shard in range(0, syncShards): {
    name: '${namePrefix}-sync-${shard + 1}'
    location: location
    tags: union(tags, {
      'blobpi-role': 'sync'
    })
    identity: {
      type: 'UserAssigned'
      userAssignedIdentities: {
        '${syncIdentityId}': {}
      }
    }
    properties: {
      environmentId: syncEnv.id
      workloadProfileName: 'Consumption'
      configuration: {
        triggerType: 'Schedule'
        scheduleTriggerConfig: {
          cronExpression: syncSchedule
          parallelism: 1
          replicaCompletionCount: 1
        }
        replicaTimeout: syncTimeout
        replicaRetryLimit: 0 // the next scheduled run is the retry: converges from where this stopped
        registries: [
          {
            server: registryServer
            identity: syncIdentityId
          }
        ]
      }
      template: {
        containers: [
          {
            name: 'sync'
            image: '${registryServer}/${syncImage}'
            args: [
              'sync'
              '--wait'
              string(leaseWait)
            ]
            resources: {
              cpu: json('1.0')
              memory: '2Gi'
            }
            env: [
              {
                name: 'BLOBPI_STORAGE'
                value: containerUrl
              }
              {
                name: 'AZURE_CLIENT_ID'
                value: syncClientId
              }
              {
                name: 'BLOBPI_UPSTREAM'
                value: upstreamUrl
              }
              {
                name: 'BLOBPI_SHARD'
                value: '${shard + 1}/${syncShards}' // K/N counts from 1
              }
            ]
          }
        ]
      }
    }
  }
]

// The workflow role, assigned on these jobs and this environment only: at resource-group scope
// it could create a new job (or app) running as the server identity.
resource workflowOnJobs 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for shard in range(0, empty(workflowPrincipalId) ? 0 : syncShards): {
    name: guid(syncJobs[shard].id, workflowPrincipalId, workflowRoleId)
    scope: syncJobs[shard]
    properties: {
      roleDefinitionId: workflowRoleId
      principalId: workflowPrincipalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource workflowOnEnv 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(workflowPrincipalId)) {
  name: guid(syncEnv.id, workflowPrincipalId, workflowRoleId)
  scope: syncEnv
  properties: {
    roleDefinitionId: workflowRoleId
    principalId: workflowPrincipalId
    principalType: 'ServicePrincipal'
  }
}

@description('The name of the sync jobs\' Container Apps environment.')
output environmentName string = syncEnv.name

@description('The names of the sync jobs.')
output syncJobNames array = [for shard in range(0, syncShards): syncJobs[shard].name]
